import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { refresh, validAccessToken } from '../auth/session';
import { graphql } from '../gql';
import type { OrderDetailsFragment, TypedDocumentString } from '../gql/graphql';
import { request } from '../graphql/client';
import { GraphQLRequestError, NetworkError, type GraphQLErrorEntry } from '../graphql/errors';
import { GRAPHQL_URL, requestBody } from '../graphql/transport';
import { isSettled, isTransient } from '../lib/orderStatus';

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

const OrderStatusSubscription = graphql(`
  subscription OrderStatusChanged($id: ID!) {
    orderStatusChanged(id: $id) {
      ...OrderDetails
    }
  }
`);

export type OrderDetails = OrderDetailsFragment;

export function orderKey(id: string) {
  return ['order', id] as const;
}

/** How often the order is read again when the live stream is down. */
const POLL_MS = 1000;

/**
 * Streams a subscription over SSE (graphql-sse "distinct connections": one POST
 * with `Accept: text/event-stream` per subscription): yields each `next` payload's
 * data, returns on `complete` or when the server closes the stream.
 */
async function* streamSubscription<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  accessToken: string | null,
  signal: AbortSignal,
): AsyncGenerator<TResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (accessToken) headers['authorization'] = `Bearer ${accessToken}`;
  const response = await fetch(GRAPHQL_URL, { method: 'POST', headers, body: requestBody(document, variables), signal });
  if (!response.ok || !response.body) throw new NetworkError(`the subscription answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll('\r\n', '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(message)?.[1] ?? 'message';
      if (event === 'complete') return;
      const data = message
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if ((event !== 'next' && event !== 'message') || !data) continue;
      const payload = JSON.parse(data) as { data?: TResult | null; errors?: GraphQLErrorEntry[] };
      if (payload.errors?.length) throw new GraphQLRequestError(payload.errors);
      if (payload.data) yield payload.data;
    }
  }
}

/**
 * The order, kept current without a reload until it settles (delivered,
 * cancelled, refunded): read once, then every status change arrives through
 * Subscription.orderStatusChanged, which the server ends there. If the stream
 * cannot be opened or drops, it falls back to reading the order every second
 * while the saga is moving it (placed, awaiting payment, refund pending). The
 * one place that knows how the order page stays live.
 */
export function useOrderStatus(id: string) {
  const queryClient = useQueryClient();
  const [streamDown, setStreamDown] = useState(false);
  const query = useQuery({
    queryKey: orderKey(id),
    queryFn: async (): Promise<OrderDetails> => (await request(OrderQuery, { id })).order,
    refetchInterval: (q) => {
      const status = q.state.data?.status;
      return streamDown && status && isTransient(status) ? POLL_MS : false;
    },
  });
  const watching = query.data !== undefined && !isSettled(query.data.status);

  useEffect(() => {
    if (!watching) return;
    const controller = new AbortController();
    const follow = async (token: string | null) => {
      for await (const data of streamSubscription(OrderStatusSubscription, { id }, token, controller.signal)) {
        if (data.orderStatusChanged) queryClient.setQueryData(orderKey(id), data.orderStatusChanged);
      }
    };
    (async () => {
      let token = await validAccessToken();
      let refreshed = false;
      for (;;) {
        try {
          await follow(token);
        } catch (error) {
          if (refreshed || !(error instanceof GraphQLRequestError) || !error.hasCode('UNAUTHENTICATED')) throw error;
          token = await refresh();
          refreshed = true;
          continue;
        }
        // The server ended the stream: the order settled, or the subscription
        // reached its lifetime while the order is still moving (subscribe again).
        const current = queryClient.getQueryData<OrderDetails>(orderKey(id));
        if (controller.signal.aborted || !current || isSettled(current.status)) return;
      }
    })().catch(() => {
      if (controller.signal.aborted) return;
      setStreamDown(true);
      void queryClient.invalidateQueries({ queryKey: orderKey(id) });
    });
    return () => controller.abort();
  }, [id, watching, queryClient]);

  return query;
}
