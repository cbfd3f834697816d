import type { FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useAuthMutation } from '../auth/useAuthMutation';
import { ErrorMessage } from '../components/ErrorMessage';
import { Field } from '../components/Field';
import { graphql } from '../gql';
import { post } from '../graphql/transport';
import { usePageTitle } from '../lib/usePageTitle';

const LoginMutation = graphql(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      ...AuthFields
    }
  }
`);

const SIGN_IN_ERRORS = {
  UNAUTHENTICATED: 'The email or password is not right.',
  BAD_USER_INPUT: 'The email or password is not right.',
  RATE_LIMITED: 'Too many sign-in attempts. Please wait a few minutes and try again.',
};

export function SignInPage() {
  usePageTitle('Sign in');
  const [params] = useSearchParams();
  const signIn = useAuthMutation(
    async (vars: { email: string; password: string }) => (await post(LoginMutation, vars, null)).login,
  );

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    signIn.mutate({ email: String(form.get('email')).trim(), password: String(form.get('password')) });
  };

  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <form onSubmit={onSubmit} className="form">
        <Field label="Email" name="email" type="email" autoComplete="email" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        {signIn.isError && <ErrorMessage error={signIn.error} byCode={SIGN_IN_ERRORS} />}
        <button type="submit" className="button primary" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        New here? <Link to={`/sign-up?${params.toString()}`}>Create an account</Link>.
      </p>
    </section>
  );
}
