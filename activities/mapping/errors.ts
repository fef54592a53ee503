/**
 * The one error type the mapping functions raise. It names the QBO entity, its id when known, and
 * the field at fault as a path into the payload (`Line[2].SalesItemLineDetail.Qty`), so a sync
 * error row or a support answer can say exactly what was wrong.
 */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  constructor(
    readonly qboEntity: string,
    readonly qboId: string | null,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${qboEntity}${qboId === null ? '' : ` ${qboId}`}: ${field} ${problem}`);
  }
}

export function isMappingError(error: unknown): error is MappingError {
  return error instanceof MappingError;
}
