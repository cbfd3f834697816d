import type { ReactNode } from 'react';
import { describeError } from '../graphql/errors';

interface ErrorMessageProps {
  error?: unknown;
  /** Wording for error codes in this context (e.g. CONFLICT on sign-up). */
  byCode?: Record<string, string>;
  children?: ReactNode;
}

/** An error, announced to assistive technology as it appears. */
export function ErrorMessage({ error, byCode, children }: ErrorMessageProps) {
  return (
    <div className="alert alert-error" role="alert">
      {children ?? describeError(error, byCode)}
    </div>
  );
}
