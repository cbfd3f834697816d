import { Link, useParams } from 'react-router';
import { CancelOrderButton } from '../components/CancelOrderButton';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Money } from '../components/Money';
import { OrderOutcome } from '../components/OrderOutcome';
import { StatusBadge } from '../components/StatusBadge';
import { useOrderStatus } from '../hooks/useOrderStatus';
import { formatDate } from '../lib/dates';
import { isCancellable, STATUS_LABELS } from '../lib/orderStatus';
import { readableReason } from '../lib/orderReason';
import { usePageTitle } from '../lib/usePageTitle';

export function OrderPage() {
  const { id = '' } = useParams();
  const query = useOrderStatus(id);
  const order = query.data;
  usePageTitle(order ? `Order ${order.number}` : 'Order');

  if (query.isPending) return <Loading label="Loading the order" />;
  if (!order) {
    return (
      <>
        <h1>Order</h1>
        <ErrorMessage error={query.error} byCode={{ NOT_FOUND: 'We could not find this order.' }} />
        <p><Link to="/orders">Your orders</Link></p>
      </>
    );
  }
  const address = order.shippingAddress;

  return (
    <>
      <h1>Order {order.number}</h1>
      <section aria-labelledby="status-heading" className="card">
        <h2 id="status-heading">Status</h2>
        <p aria-live="polite" aria-atomic="true" className="order-status">
          <StatusBadge status={order.status} />
        </p>
        <OrderOutcome order={order} />
        {query.isRefetchError && <p className="muted">Could not refresh the status; retrying.</p>}
        {isCancellable(order.status) && (
          <CancelOrderButton orderId={order.id} orderNumber={order.number} status={order.status} />
        )}
      </section>

      <section aria-labelledby="items-heading">
        <h2 id="items-heading">Items</h2>
        <table className="order-table">
          <caption className="visually-hidden">Items in order {order.number}</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Quantity</th>
              <th scope="col">Price</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {order.items.map((item) => (
              <tr key={item.sku}>
                <th scope="row">
                  {item.product ? <Link to={`/products/${item.product.id}`}>{item.name}</Link> : item.name}
                </th>
                <td data-label="Quantity">{item.quantity}</td>
                <td data-label="Price"><Money value={item.unitPrice} /></td>
                <td data-label="Total"><Money value={item.lineTotal} /></td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>Order total</th>
              <td><Money value={order.total} /></td>
            </tr>
          </tfoot>
        </table>
      </section>

      <div className="two-columns">
        <section aria-labelledby="shipping-heading">
          <h2 id="shipping-heading">Shipping to</h2>
          <address>
            {address.name}<br />
            {address.line1}<br />
            {address.line2 && <>{address.line2}<br /></>}
            {address.postalCode} {address.city}<br />
            {address.country}
          </address>
        </section>
        <section aria-labelledby="payment-heading">
          <h2 id="payment-heading">Payment</h2>
          {order.payment ? (
            <p>
              {order.payment.card ? `${order.payment.card.brand} ending ${order.payment.card.last4}` : 'Card'}:{' '}
              {order.payment.status.toLowerCase().replaceAll('_', ' ')}
              {order.payment.refundedAmount.amount > 0 && (
                <>, <Money value={order.payment.refundedAmount} /> refunded</>
              )}
            </p>
          ) : (
            <p className="muted">Not requested yet.</p>
          )}
        </section>
      </div>

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        <ol className="history">
          {order.statusHistory.map((change) => (
            <li key={`${change.status}-${change.at}`}>
              <time dateTime={change.at}>{formatDate(change.at)}</time>: {STATUS_LABELS[change.status]}
              {change.reason && <span className="muted"> ({readableReason(change.reason, order.items)})</span>}
            </li>
          ))}
        </ol>
      </section>
      <p><Link to="/orders">All your orders</Link></p>
    </>
  );
}
