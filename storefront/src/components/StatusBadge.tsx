import type { OrderStatus } from '../gql/graphql';
import { STATUS_LABELS } from '../lib/orderStatus';

export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <span className={`status status-${status.toLowerCase()}`} data-status={status}>
      {STATUS_LABELS[status]}
    </span>
  );
}
