import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { graphql } from '../gql';
import type { CartFieldsFragment } from '../gql/graphql';
import { request } from '../graphql/client';
import { useSession } from '../auth/useSession';

graphql(`
  fragment CartFields on Cart {
    itemCount
    subtotal {
      amount
      currency
    }
    items {
      quantity
      unitPrice {
        amount
        currency
      }
      lineTotal {
        amount
        currency
      }
      product {
        id
        name
        sku
        availableQuantity
      }
    }
  }
`);

const CartQuery = graphql(`
  query Cart {
    myCart {
      ...CartFields
    }
  }
`);

const AddToCartMutation = graphql(`
  mutation AddToCart($productId: ID!, $quantity: Int!) {
    addToCart(productId: $productId, quantity: $quantity) {
      ...CartFields
    }
  }
`);

const UpdateCartItemMutation = graphql(`
  mutation UpdateCartItem($productId: ID!, $quantity: Int!) {
    updateCartItem(productId: $productId, quantity: $quantity) {
      ...CartFields
    }
  }
`);

const RemoveFromCartMutation = graphql(`
  mutation RemoveFromCart($productId: ID!) {
    removeFromCart(productId: $productId) {
      ...CartFields
    }
  }
`);

export type Cart = CartFieldsFragment;
export type CartLine = Cart['items'][number];

export const CART_KEY = ['cart'] as const;

/** The signed-in shopper's cart (disabled when signed out). */
export function useCart() {
  const { user } = useSession();
  return useQuery({
    queryKey: CART_KEY,
    queryFn: async () => (await request(CartQuery)).myCart,
    enabled: user !== null,
  });
}

/** The lines whose quantity exceeds what is left in stock. */
export function shortLines(cart: Cart): CartLine[] {
  return cart.items.filter((line) => line.quantity > line.product.availableQuantity);
}

export function useCartMutations() {
  const queryClient = useQueryClient();
  const onSuccess = (cart: Cart) => queryClient.setQueryData(CART_KEY, cart);
  const add = useMutation({
    mutationFn: async (vars: { productId: string; quantity: number }) =>
      (await request(AddToCartMutation, vars)).addToCart,
    onSuccess,
  });
  const update = useMutation({
    mutationFn: async (vars: { productId: string; quantity: number }) =>
      (await request(UpdateCartItemMutation, vars)).updateCartItem,
    onSuccess,
  });
  const remove = useMutation({
    mutationFn: async (vars: { productId: string }) => (await request(RemoveFromCartMutation, vars)).removeFromCart,
    onSuccess,
  });
  return { add, update, remove };
}
