import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useCartMutations, type CartLine } from '../hooks/useCart';
import { describeError } from '../graphql/errors';
import { Money } from './Money';

export function CartLineRow({ line }: { line: CartLine }) {
  const { update, remove } = useCartMutations();
  const [quantity, setQuantity] = useState(line.quantity);
  const { product } = line;
  const inputId = `qty-${product.id}`;
  const failed = update.error ?? remove.error;

  const onUpdate = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({ productId: product.id, quantity });
  };

  return (
    <tr>
      <th scope="row">
        <Link to={`/products/${product.id}`}>{product.name}</Link>
        {failed && <p className="field-error" role="alert">{describeError(failed)}</p>}
      </th>
      <td data-label="Price">{line.unitPrice ? <Money value={line.unitPrice} /> : '—'}</td>
      <td data-label="Quantity">
        <form className="inline" onSubmit={onUpdate}>
          <label htmlFor={inputId} className="visually-hidden">Quantity of {product.name}</label>
          <input
            id={inputId}
            className="quantity"
            type="number"
            inputMode="numeric"
            min={1}
            max={100}
            value={quantity}
            onChange={(e) => setQuantity(Math.max(1, Number(e.target.value) || 1))}
          />
          <button type="submit" className="button small" disabled={update.isPending || quantity === line.quantity}>
            Update<span className="visually-hidden"> {product.name}</span>
          </button>
        </form>
      </td>
      <td data-label="Total">{line.lineTotal ? <Money value={line.lineTotal} /> : '—'}</td>
      <td>
        <button
          type="button"
          className="button small secondary"
          onClick={() => remove.mutate({ productId: product.id })}
          disabled={remove.isPending}
        >
          Remove<span className="visually-hidden"> {product.name}</span>
        </button>
      </td>
    </tr>
  );
}
