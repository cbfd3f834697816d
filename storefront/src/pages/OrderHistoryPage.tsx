import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { CancelOrderButton } from '../components/CancelOrderButton';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Money } from '../components/Money';
import { StatusBadge } from '../components/StatusBadge';
import { graphql } from '../gql';
import { request } from '../graphql/client';
import { formatDate } from '../lib/dates';
import { isCancellable, isTransient } from '../lib/orderStatus';
import { usePageTitle } from '../lib/usePageTitle';

const MyOrdersQuery = graphql(`
  query MyOrders($first: Int!, $after: String) {
    me {
      id
      orders(first: $first, after: $after) {
        nodes {
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
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

const PAGE_SIZE = 10;
const POLL_MS = 1000;

export function OrderHistoryPage() {
  usePageTitle('Your orders');
  const orders = useInfiniteQuery({
    queryKey: ['orders'],
    queryFn: async ({ pageParam }) => {
      const { me } = await request(MyOrdersQuery, { first: PAGE_SIZE, after: pageParam });
      return me?.orders ?? { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => (last.pageInfo.hasNextPage ? last.pageInfo.endCursor : null),
    // While an order is about to change (a refund on its way), keep the list current.
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.nodes.some((o) => isTransient(o.status))) ? POLL_MS : false,
  });
  const items = orders.data?.pages.flatMap((page) => page.nodes) ?? [];

  return (
    <>
      <h1>Your orders</h1>
      {orders.isPending && <Loading label="Loading your orders" />}
      {orders.isError && <ErrorMessage error={orders.error} />}
      {orders.isSuccess && items.length === 0 && (
        <p className="empty">You have no orders yet. <Link to="/">Browse the catalogue</Link>.</p>
      )}
      <ul className="order-list">
        {items.map((order) => (
          <li key={order.id} className="card order-summary">
            <h2 className="card-title">
              <Link to={`/orders/${order.id}`}>Order {order.number}</Link>
            </h2>
            <p aria-live="polite">
              <StatusBadge status={order.status} />
            </p>
            <p className="muted">
              Placed <time dateTime={order.createdAt}>{formatDate(order.createdAt)}</time>
            </p>
            <p>
              {order.items.map((i) => `${i.quantity} × ${i.name}`).join(', ')}
            </p>
            <p className="price"><Money value={order.total} /></p>
            {isCancellable(order.status) && (
              <CancelOrderButton orderId={order.id} orderNumber={order.number} status={order.status} />
            )}
          </li>
        ))}
      </ul>
      {orders.hasNextPage && (
        <button
          type="button"
          className="button load-more"
          onClick={() => orders.fetchNextPage()}
          disabled={orders.isFetchingNextPage}
        >
          {orders.isFetchingNextPage ? 'Loading more…' : 'Load more orders'}
        </button>
      )}
    </>
  );
}
