/** The error of an admin call (`/__sim/` or the in-process admin operations). */
/** An admin call that cannot be done; answered with HTTP `status` and a one-line message. */
export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
