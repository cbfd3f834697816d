interface NamedItem {
  name: string;
  product: { id: string } | null;
}

/** A status reason with the product ids it mentions replaced by the products' names. */
export function readableReason(reason: string, items: readonly NamedItem[]): string {
  return items.reduce(
    (text, item) => (item.product ? text.replaceAll(item.product.id, item.name) : text),
    reason,
  );
}
