import { useQuery } from '@tanstack/react-query';
import { graphql } from '../gql';
import type { OrderDetailsFragment } from '../gql/graphql';
import { request } from '../graphql/client';
import { isTransient } from '../lib/orderStatus';

graphql(`
  fragment OrderDetails on Order {
    id
    number
    status
    createdAt
    total {
      amount
      currency
    }
    items {
      sku
      name
      quantity
      unitPrice {
        amount
        currency
      }
      lineTotal {
        amount
        currency
      }
      product {
        id
      }
    }
    shippingAddress {
      name
      line1
      line2
      city
      postalCode
      country
    }
    statusHistory {
      status
      reason
      at
    }
    payment {
      status
      failureReason
      card {
        brand
        last4
      }
      refundedAmount {
        amount
        currency
      }
    }
  }
`);

const OrderQuery = graphql(`
  query Order($id: ID!) {
    order(id: $id) {
      ...OrderDetails
    }
  }
`);

export type OrderDetails = OrderDetailsFragment;

export function orderKey(id: string) {
  return ['order', id] as const;
}

/** How often the order is read again while its status is about to change. */
const POLL_MS = 1000;

/**
 * The order, kept current without a reload while its status is transient
 * (placed, awaiting payment, refund pending): it is read again every second
 * until it settles. The one place that knows how the order page stays live.
 */
export function useOrderStatus(id: string) {
  return useQuery({
    queryKey: orderKey(id),
    queryFn: async (): Promise<OrderDetails> => (await request(OrderQuery, { id })).order,
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status && isTransient(status) ? POLL_MS : false;
    },
  });
}
