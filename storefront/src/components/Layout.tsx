import { Link, NavLink, Outlet } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { signOut } from '../auth/session';
import { useSession } from '../auth/useSession';
import { CART_KEY, useCart } from '../hooks/useCart';

/** What one shopper may see and the next must not. */
const PRIVATE_QUERIES = [CART_KEY, ['orders'], ['order']];

function CartLink() {
  const { data: cart } = useCart();
  const count = cart?.itemCount ?? 0;
  return (
    <NavLink to="/cart">
      Cart{' '}
      <span className="badge" aria-label={`${count} ${count === 1 ? 'item' : 'items'}`}>
        {count}
      </span>
    </NavLink>
  );
}

function AccountNav() {
  const { user, restoring } = useSession();
  const queryClient = useQueryClient();
  if (restoring) return null;
  if (!user) {
    return (
      <>
        <li><NavLink to="/sign-in">Sign in</NavLink></li>
        <li><NavLink to="/sign-up">Sign up</NavLink></li>
      </>
    );
  }
  // A protected page then sends the shopper to sign in again; a public one stays.
  const onSignOut = async () => {
    await signOut();
    PRIVATE_QUERIES.forEach((queryKey) => queryClient.removeQueries({ queryKey }));
  };
  return (
    <>
      <li><CartLink /></li>
      <li><NavLink to="/orders">Orders</NavLink></li>
      <li className="account">
        <span className="account-name">{user.name}</span>
        <button type="button" className="link-button" onClick={onSignOut}>
          Sign out
        </button>
      </li>
    </>
  );
}

export function Layout() {
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="site-header">
        <Link to="/" className="brand">Shop</Link>
        <nav aria-label="Main">
          <ul>
            <li><NavLink to="/" end>Catalogue</NavLink></li>
            <AccountNav />
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <p>Test mode: payments use test cards, nothing is charged.</p>
      </footer>
    </>
  );
}
