import type { ProductSort } from '../gql/graphql';

export const SORT_LABELS: Record<ProductSort, string> = {
  NEWEST: 'Newest',
  PRICE_ASC: 'Price: low to high',
  PRICE_DESC: 'Price: high to low',
  NAME_ASC: 'Name: A to Z',
};

export const DEFAULT_SORT: ProductSort = 'NEWEST';

function isSort(value: string): value is ProductSort {
  return Object.hasOwn(SORT_LABELS, value);
}

/** The sort named in the URL, or the default. */
export function parseSort(value: string | null): ProductSort {
  return value !== null && isSort(value) ? value : DEFAULT_SORT;
}
