import { useQuery } from '@tanstack/react-query';
import { graphql } from '../gql';
import { request } from '../graphql/client';

const CategoriesQuery = graphql(`
  query Categories {
    categories {
      id
      name
    }
  }
`);

export function useCategories() {
  return useQuery({
    queryKey: ['categories'],
    queryFn: async () => (await request(CategoriesQuery)).categories,
    staleTime: 5 * 60_000,
  });
}
