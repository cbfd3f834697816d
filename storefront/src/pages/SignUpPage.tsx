import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useAuthMutation } from '../auth/useAuthMutation';
import { ErrorMessage } from '../components/ErrorMessage';
import { Field } from '../components/Field';
import { graphql } from '../gql';
import type { RegisterInput } from '../gql/graphql';
import { errorField } from '../graphql/errors';
import { post } from '../graphql/transport';
import { usePageTitle } from '../lib/usePageTitle';

const RegisterMutation = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      ...AuthFields
    }
  }
`);

const SIGN_UP_ERRORS = {
  CONFLICT: 'An account with this email already exists. Sign in instead?',
  RATE_LIMITED: 'Too many sign-ups from your network. Please try again later.',
};

type Problems = Partial<Record<keyof RegisterInput, string>>;

/** The same rules the users service applies, checked before asking it. */
function validate(input: RegisterInput): Problems {
  const problems: Problems = {};
  if (!input.name) problems.name = 'Enter your name.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email)) problems.email = 'Enter an email address like name@example.com.';
  if (input.password.length < 10 || input.password.length > 128) {
    problems.password = 'The password must be 10 to 128 characters long.';
  } else if (!/\p{L}/u.test(input.password) || !/\p{Nd}/u.test(input.password)) {
    problems.password = 'The password must contain at least one letter and one digit.';
  }
  return problems;
}

export function SignUpPage() {
  usePageTitle('Sign up');
  const [params] = useSearchParams();
  const [problems, setProblems] = useState<Problems>({});
  const signUp = useAuthMutation(
    async (input: RegisterInput) => (await post(RegisterMutation, { input }, null)).register,
  );

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input: RegisterInput = {
      name: String(form.get('name')).trim(),
      email: String(form.get('email')).trim(),
      password: String(form.get('password')),
    };
    const found = validate(input);
    setProblems(found);
    if (Object.keys(found).length === 0) signUp.mutate(input);
  };

  const serverField = signUp.isError ? errorField(signUp.error) : undefined;
  const invalid = (name: keyof RegisterInput) => problems[name] ?? (serverField === name ? 'Check this field.' : undefined);

  return (
    <section className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={onSubmit} className="form" noValidate>
        <Field label="Name" name="name" autoComplete="name" required error={invalid('name')} />
        <Field label="Email" name="email" type="email" autoComplete="email" required error={invalid('email')} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          hint="10 to 128 characters, with at least one letter and one digit."
          error={invalid('password')}
        />
        {Object.keys(problems).length > 0 && (
          <ErrorMessage>Please correct the highlighted fields.</ErrorMessage>
        )}
        {signUp.isError && <ErrorMessage error={signUp.error} byCode={SIGN_UP_ERRORS} />}
        <button type="submit" className="button primary" disabled={signUp.isPending}>
          {signUp.isPending ? 'Creating your account…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <Link to={`/sign-in?${params.toString()}`}>Sign in</Link>.
      </p>
    </section>
  );
}
