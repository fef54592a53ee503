/**
 * Money is added up in whole cents so that 0.1 + 0.2 is 0.3; QBO amounts carry at most two
 * decimals. Results go back out as JSON numbers (the map contract) or as NUMERIC strings (the DB).
 */
export function toCents(amount: number): number {
  return Math.round(Number((amount * 100).toFixed(4)));
}

export function fromCents(cents: number): number {
  return Number((cents / 100).toFixed(2));
}

/** NUMERIC text for a JSON money number, e.g. 12.5 → "12.50". */
export function moneyText(amount: number): string {
  return (toCents(amount) / 100).toFixed(2);
}
