/** A date column as YYYY-MM-DD, whether the driver hands it over parsed or as text. */
export function isoDate(value: Date | string): string {
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}
