import { useState, type FormEvent } from 'react';
import { Link, useLocation } from 'react-router';
import { useSession } from '../auth/useSession';
import { useCartMutations } from '../hooks/useCart';
import { ErrorMessage } from './ErrorMessage';

/** The most one cart line may hold (the orders service's bound). */
const MAX_PER_LINE = 100;

interface Props {
  productId: string;
  productName: string;
  available: number;
}

export function AddToCartForm({ productId, productName, available }: Props) {
  const { user } = useSession();
  const location = useLocation();
  const { add } = useCartMutations();
  const [quantity, setQuantity] = useState(1);

  if (!user) {
    return (
      <p>
        <Link className="button primary" to={`/sign-in?next=${encodeURIComponent(location.pathname)}`}>
          Sign in to buy
        </Link>
      </p>
    );
  }
  if (available <= 0) return null;

  const max = Math.min(available, MAX_PER_LINE);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ productId, quantity });
  };

  return (
    <form className="add-to-cart" onSubmit={onSubmit}>
      <div className="field">
        <label htmlFor="quantity">Quantity</label>
        <input
          id="quantity"
          type="number"
          inputMode="numeric"
          min={1}
          max={max}
          value={quantity}
          onChange={(e) => setQuantity(Math.max(1, Math.min(max, Number(e.target.value) || 1)))}
        />
      </div>
      <button type="submit" className="button primary" disabled={add.isPending}>
        {add.isPending ? 'Adding…' : 'Add to cart'}
      </button>
      <div aria-live="polite">
        {add.isSuccess && (
          <p className="alert alert-success">
            Added {productName} to your cart. <Link to="/cart">View cart</Link>
          </p>
        )}
      </div>
      {add.isError && <ErrorMessage error={add.error} />}
    </form>
  );
}
