/** An amount in minor units of an ISO 4217 currency, as the API returns it. */
export interface MoneyValue {
  amount: number;
  currency: string;
}

/** `1999 EUR` → `€19.99` (in the browser's locale). */
export function formatMoney({ amount, currency }: MoneyValue): string {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amount / 10 ** digits);
}
