import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { graphql } from '../gql';
import type { OrderStatus } from '../gql/graphql';
import { request } from '../graphql/client';
import { orderKey } from '../hooks/useOrderStatus';
import { isPaid } from '../lib/orderStatus';
import { ErrorMessage } from './ErrorMessage';

const CancelOrderMutation = graphql(`
  mutation CancelOrder($id: ID!, $reason: String) {
    cancelOrder(id: $id, reason: $reason) {
      ...OrderDetails
    }
  }
`);

const CANCEL_ERRORS = {
  CONFLICT: 'This order can no longer be cancelled: its status changed meanwhile.',
};

interface Props {
  orderId: string;
  orderNumber: string;
  status: OrderStatus;
}

/** Cancels an order after a confirmation step; a paid order is refunded. */
export function CancelOrderButton({ orderId, orderNumber, status }: Props) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const refund = isPaid(status);
  const cancel = useMutation({
    mutationFn: async () =>
      (await request(CancelOrderMutation, { id: orderId, reason: 'cancelled by the customer' })).cancelOrder,
    onSuccess: async (order) => {
      setConfirming(false);
      queryClient.setQueryData(orderKey(orderId), order);
      await queryClient.invalidateQueries({ queryKey: ['orders'] });
    },
  });
  const action = refund ? 'Cancel and refund' : 'Cancel order';

  return (
    <div className="cancel-order">
      {confirming ? (
        <div role="group" aria-label={`Confirm cancelling order ${orderNumber}`} className="inline">
          <span>{refund ? 'Cancel this order and refund the payment?' : 'Cancel this order?'}</span>
          <button type="button" className="button danger small" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            {cancel.isPending ? 'Cancelling…' : `Yes, ${action.toLowerCase()}`}
          </button>
          <button type="button" className="button secondary small" onClick={() => setConfirming(false)}>
            Keep order
          </button>
        </div>
      ) : (
        <button type="button" className="button secondary small" onClick={() => setConfirming(true)}>
          {action}<span className="visually-hidden"> {orderNumber}</span>
        </button>
      )}
      {cancel.isError && <ErrorMessage error={cancel.error} byCode={CANCEL_ERRORS} />}
    </div>
  );
}
