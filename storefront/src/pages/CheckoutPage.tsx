import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { AddressFields } from '../components/AddressFields';
import { CardChoice } from '../components/CardChoice';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Money } from '../components/Money';
import { StockShortage } from '../components/StockShortage';
import { graphql } from '../gql';
import type { ShippingAddressInput } from '../gql/graphql';
import { request } from '../graphql/client';
import { errorField, GraphQLRequestError } from '../graphql/errors';
import { CART_KEY, shortLines, useCart, type CartLine } from '../hooks/useCart';
import { newIdempotencyKey } from '../lib/idempotencyKey';
import { usePageTitle } from '../lib/usePageTitle';

const PlaceOrderMutation = graphql(`
  mutation PlaceOrder($input: PlaceOrderInput!, $idempotencyKey: String!) {
    placeOrder(input: $input, idempotencyKey: $idempotencyKey) {
      id
    }
  }
`);

const CHECKOUT_ERRORS = {
  BAD_USER_INPUT: 'Some of the address or card details are not valid. Please check them.',
  CONFLICT: 'Your cart changed while you were checking out. Please review it and try again.',
};

function addressFrom(form: FormData): ShippingAddressInput {
  const text = (name: string) => String(form.get(name) ?? '').trim();
  return {
    name: text('name'),
    line1: text('line1'),
    line2: text('line2') || null,
    city: text('city'),
    postalCode: text('postalCode'),
    country: text('country'),
  };
}

export function CheckoutPage() {
  usePageTitle('Checkout');
  const cart = useCart();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  // One key per attempt; kept after a transport failure so a retry cannot order twice.
  const idempotencyKey = useRef(newIdempotencyKey());
  const [shortage, setShortage] = useState<CartLine[]>([]);

  const place = useMutation({
    mutationFn: async (vars: { address: ShippingAddressInput; token: string }) =>
      (
        await request(PlaceOrderMutation, {
          input: { shippingAddress: vars.address, paymentToken: vars.token },
          idempotencyKey: idempotencyKey.current,
        })
      ).placeOrder,
    onSuccess: async (order) => {
      await queryClient.invalidateQueries({ queryKey: CART_KEY });
      navigate(`/orders/${order.id}`);
    },
    onError: async (error) => {
      if (!(error instanceof GraphQLRequestError)) return;
      idempotencyKey.current = newIdempotencyKey();
      if (error.hasCode('CONFLICT')) {
        const fresh = await cart.refetch();
        setShortage(fresh.data ? shortLines(fresh.data) : []);
      }
    },
  });

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setShortage([]);
    const form = new FormData(event.currentTarget);
    place.mutate({ address: addressFrom(form), token: String(form.get('card')) });
  };

  if (cart.isPending) return <Loading label="Loading your cart" />;
  if (cart.isError) {
    return (
      <>
        <h1>Checkout</h1>
        <ErrorMessage error={cart.error} />
      </>
    );
  }
  if (cart.data.items.length === 0 && !place.isSuccess) {
    return (
      <>
        <h1>Checkout</h1>
        <p className="empty">Your cart is empty. <Link to="/">Browse the catalogue</Link>.</p>
      </>
    );
  }

  return (
    <>
      <h1>Checkout</h1>
      <div className="checkout">
        <section aria-labelledby="summary-heading" className="card">
          <h2 id="summary-heading">Order summary</h2>
          <ul className="summary-lines">
            {cart.data.items.map((line) => (
              <li key={line.product.id}>
                <span>{line.quantity} × {line.product.name}</span>
                {line.lineTotal && <Money value={line.lineTotal} />}
              </li>
            ))}
          </ul>
          {cart.data.subtotal && (
            <p className="summary-total">Total <Money value={cart.data.subtotal} /></p>
          )}
          <p><Link to="/cart">Edit cart</Link></p>
        </section>
        <form className="form" onSubmit={onSubmit}>
          <AddressFields invalidField={place.isError ? errorField(place.error) : undefined} />
          <CardChoice />
          {shortage.length > 0 ? (
            <StockShortage lines={shortage} role="alert" />
          ) : (
            place.isError && <ErrorMessage error={place.error} byCode={CHECKOUT_ERRORS} />
          )}
          <button type="submit" className="button primary" disabled={place.isPending}>
            {place.isPending ? 'Placing your order…' : 'Place order'}
          </button>
        </form>
      </div>
    </>
  );
}
