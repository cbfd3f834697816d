import { useSyncExternalStore } from 'react';
import { getState, subscribe, type SessionState } from './session';

/** The session, re-rendering on sign-in, refresh and sign-out. */
export function useSession(): SessionState {
  return useSyncExternalStore(subscribe, getState);
}
