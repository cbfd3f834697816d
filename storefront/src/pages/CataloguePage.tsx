import { useInfiniteQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { CatalogueFilters } from '../components/CatalogueFilters';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { ProductCard } from '../components/ProductCard';
import { graphql } from '../gql';
import { request } from '../graphql/client';
import { parseSort } from '../lib/productSort';
import { usePageTitle } from '../lib/usePageTitle';

const ProductsQuery = graphql(`
  query Products($filter: ProductFilter, $sort: ProductSort, $first: Int!, $after: String) {
    products(filter: $filter, sort: $sort, first: $first, after: $after) {
      nodes {
        ...ProductCardFields
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const PAGE_SIZE = 12;

export function CataloguePage() {
  usePageTitle('Catalogue');
  const [params] = useSearchParams();
  const search = params.get('q') ?? '';
  const categoryId = params.get('category') ?? '';
  const sort = parseSort(params.get('sort'));

  const products = useInfiniteQuery({
    queryKey: ['products', { search, categoryId, sort }],
    queryFn: async ({ pageParam }) =>
      (
        await request(ProductsQuery, {
          filter: { search: search || null, categoryId: categoryId || null },
          sort,
          first: PAGE_SIZE,
          after: pageParam,
        })
      ).products,
    initialPageParam: null as string | null,
    getNextPageParam: (last) => (last.pageInfo.hasNextPage ? last.pageInfo.endCursor : null),
  });

  const items = products.data?.pages.flatMap((page) => page.nodes) ?? [];

  return (
    <>
      <h1>Catalogue</h1>
      <CatalogueFilters search={search} categoryId={categoryId} sort={sort} />
      {products.isPending && <Loading label="Loading products" />}
      {products.isError && <ErrorMessage error={products.error} />}
      {products.isSuccess && items.length === 0 && (
        <p className="empty">No products match. Try another search or category.</p>
      )}
      {items.length > 0 && (
        <section aria-label="Products">
          <p className="muted" role="status">
            Showing {items.length} {items.length === 1 ? 'product' : 'products'}
            {products.hasNextPage ? ' (more available)' : ''}
          </p>
          <ul className="product-grid">
            {items.map((product) => (
              <li key={product.id}>
                <ProductCard product={product} />
              </li>
            ))}
          </ul>
        </section>
      )}
      {products.hasNextPage && (
        <button
          type="button"
          className="button load-more"
          onClick={() => products.fetchNextPage()}
          disabled={products.isFetchingNextPage}
        >
          {products.isFetchingNextPage ? 'Loading more…' : 'Load more'}
        </button>
      )}
      {products.isFetchNextPageError && <ErrorMessage error={products.error} />}
    </>
  );
}
