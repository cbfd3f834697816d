import type { OrderDetails } from '../hooks/useOrderStatus';
import { describeDecline, isTransient } from '../lib/orderStatus';
import { readableReason } from '../lib/orderReason';

/** What the order's status means for the shopper, in a sentence or two. */
export function OrderOutcome({ order }: { order: OrderDetails }) {
  const { status, payment } = order;
  if (status === 'CANCELLED') {
    const lastReason = order.statusHistory.at(-1)?.reason;
    if (payment?.status === 'FAILED') {
      return (
        <div className="alert alert-error" role="alert">
          <p><strong>{describeDecline(payment.failureReason ?? 'unknown')}</strong></p>
          <p>The order was cancelled and nothing was charged. You can try again with another card.</p>
        </div>
      );
    }
    return (
      <div className="alert alert-warning" role="alert">
        <p>This order was cancelled{lastReason ? `: ${readableReason(lastReason, order.items)}` : ''}.</p>
      </div>
    );
  }
  if (isTransient(status)) {
    return (
      <p className="loading">
        <span className="spinner" aria-hidden="true" />
        {status === 'REFUND_PENDING' ? 'Your refund is on its way…' : 'Confirming your order and payment…'}
      </p>
    );
  }
  const messages: Partial<Record<typeof status, string>> = {
    PAID: 'Payment received. Thank you for your order!',
    SHIPPED: 'Your order is on its way.',
    DELIVERED: 'Your order was delivered.',
    REFUNDED: 'The order was cancelled and your payment refunded.',
    PARTIALLY_REFUNDED: 'Part of your payment was refunded.',
  };
  const message = messages[status];
  return message ? <p className="alert alert-success">{message}</p> : null;
}
