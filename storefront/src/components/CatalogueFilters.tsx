import type { FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import type { ProductSort } from '../gql/graphql';
import { useCategories } from '../hooks/useCategories';
import { DEFAULT_SORT, SORT_LABELS } from '../lib/productSort';

interface Props {
  search: string;
  categoryId: string;
  sort: ProductSort;
}

/** Search, category and sort, kept in the URL so results can be shared and survive a reload. */
export function CatalogueFilters({ search, categoryId, sort }: Props) {
  const [params, setParams] = useSearchParams();
  const categories = useCategories();

  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
  };

  const onSearch = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    set('q', String(new FormData(event.currentTarget).get('q')).trim());
  };

  return (
    <div className="filters">
      <form role="search" onSubmit={onSearch} className="search">
        <label htmlFor="search">Search products</label>
        <div className="inline">
          <input id="search" name="q" type="search" defaultValue={search} key={search} />
          <button type="submit" className="button">Search</button>
        </div>
      </form>
      <div className="field">
        <label htmlFor="category">Category</label>
        <select id="category" value={categoryId} onChange={(e) => set('category', e.target.value)}>
          <option value="">All categories</option>
          {categories.data?.map((c) => (
            <option key={c.id} value={c.id}>{c.name}</option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="sort">Sort by</label>
        <select id="sort" value={sort} onChange={(e) => set('sort', e.target.value === DEFAULT_SORT ? '' : e.target.value)}>
          {Object.entries(SORT_LABELS).map(([value, label]) => (
            <option key={value} value={value}>{label}</option>
          ))}
        </select>
      </div>
    </div>
  );
}
