import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import type { AuthFieldsFragment } from '../gql/graphql';
import { adopt } from './session';
import { useNextPath } from './useNextPath';

/** A sign-in or sign-up: adopts the session, forgets anonymous data, and goes on to `next`. */
export function useAuthMutation<TInput>(run: (input: TInput) => Promise<AuthFieldsFragment>) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const next = useNextPath();
  return useMutation({
    mutationFn: run,
    onSuccess: (payload) => {
      adopt(payload);
      queryClient.clear();
      navigate(next, { replace: true });
    },
  });
}
