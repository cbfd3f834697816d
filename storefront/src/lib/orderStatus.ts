import type { OrderStatus } from '../gql/graphql';

export const STATUS_LABELS: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  AWAITING_PAYMENT: 'Awaiting payment',
  PAID: 'Paid',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
  REFUND_PENDING: 'Refund pending',
  REFUNDED: 'Refunded',
  PARTIALLY_REFUNDED: 'Partially refunded',
};

/** Statuses the saga moves on from by itself, shortly: worth watching live. */
const TRANSIENT: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['PENDING', 'AWAITING_PAYMENT', 'REFUND_PENDING']);

export function isTransient(status: OrderStatus): boolean {
  return TRANSIENT.has(status);
}

/**
 * Statuses the shop considers settled: the server ends a status subscription
 * there. Until then the order page follows the order live (PAID may still be
 * shipped or refunded).
 */
const SETTLED: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['DELIVERED', 'CANCELLED', 'REFUNDED']);

export function isSettled(status: OrderStatus): boolean {
  return SETTLED.has(status);
}

/** Statuses a customer may cancel from (after payment, cancelling refunds). */
const CANCELLABLE: ReadonlySet<OrderStatus> = new Set<OrderStatus>([
  'PENDING',
  'AWAITING_PAYMENT',
  'PAID',
  'PARTIALLY_REFUNDED',
]);

export function isCancellable(status: OrderStatus): boolean {
  return CANCELLABLE.has(status);
}

export function isPaid(status: OrderStatus): boolean {
  return status === 'PAID' || status === 'PARTIALLY_REFUNDED';
}

const DECLINE_REASONS: Record<string, string> = {
  card_declined: 'Your card was declined.',
  insufficient_funds: 'Your card was declined: insufficient funds.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: 'The card’s security code is incorrect.',
  invalid_token: 'The card details are not valid.',
};

/** A sentence for a provider's decline reason (`card_declined` → "Your card was declined."). */
export function describeDecline(reason: string): string {
  return DECLINE_REASONS[reason] ?? `Your payment failed (${reason.replaceAll('_', ' ')}).`;
}
