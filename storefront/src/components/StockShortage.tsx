import type { CartLine } from '../hooks/useCart';

/** Names the lines short of stock and what is left of each. */
export function StockShortage({ lines, role }: { lines: readonly CartLine[]; role: 'alert' | 'status' }) {
  return (
    <div className={`alert ${role === 'alert' ? 'alert-error' : 'alert-warning'}`} role={role}>
      <p>Not enough stock for:</p>
      <ul>
        {lines.map(({ product, quantity }) => (
          <li key={product.id}>
            <strong>{product.name}</strong>:{' '}
            {product.availableQuantity > 0
              ? `only ${product.availableQuantity} left, ${quantity} in your cart`
              : `out of stock, ${quantity} in your cart`}
          </li>
        ))}
      </ul>
      <p>Lower the quantity or remove the item to check out.</p>
    </div>
  );
}
