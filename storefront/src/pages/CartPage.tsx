import { Link } from 'react-router';
import { CartLineRow } from '../components/CartLineRow';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Money } from '../components/Money';
import { StockShortage } from '../components/StockShortage';
import { shortLines, useCart } from '../hooks/useCart';
import { usePageTitle } from '../lib/usePageTitle';

export function CartPage() {
  usePageTitle('Your cart');
  const cart = useCart();

  if (cart.isPending) return <Loading label="Loading your cart" />;
  if (cart.isError) {
    return (
      <>
        <h1>Your cart</h1>
        <ErrorMessage error={cart.error} />
      </>
    );
  }
  const { items, subtotal, itemCount } = cart.data;
  if (items.length === 0) {
    return (
      <>
        <h1>Your cart</h1>
        <p className="empty">Your cart is empty. <Link to="/">Browse the catalogue</Link>.</p>
      </>
    );
  }
  const short = shortLines(cart.data);

  return (
    <>
      <h1>Your cart</h1>
      {short.length > 0 && <StockShortage lines={short} role="status" />}
      <table className="cart-table">
        <caption className="visually-hidden">Items in your cart</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Price</th>
            <th scope="col">Quantity</th>
            <th scope="col">Total</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {items.map((line) => (
            <CartLineRow key={line.product.id} line={line} />
          ))}
        </tbody>
      </table>
      <div className="cart-summary">
        <p>
          {itemCount} {itemCount === 1 ? 'item' : 'items'}
          {subtotal && <>, subtotal <strong><Money value={subtotal} /></strong></>}
        </p>
        <Link to="/checkout" className="button primary">Checkout</Link>
      </div>
    </>
  );
}
