import { Link } from 'react-router';
import type { ProductCardFieldsFragment } from '../gql/graphql';
import { graphql } from '../gql';
import { Money } from './Money';
import { ProductImage } from './ProductImage';
import { StockNote } from './StockNote';

graphql(`
  fragment ProductCardFields on Product {
    id
    name
    images
    availableQuantity
    price {
      amount
      currency
    }
    category {
      id
      name
    }
  }
`);

export function ProductCard({ product }: { product: ProductCardFieldsFragment }) {
  return (
    <article className="card product-card">
      <ProductImage src={product.images[0]} alt="" size={240} />
      <h2 className="card-title">
        <Link to={`/products/${product.id}`}>{product.name}</Link>
      </h2>
      <p className="muted">{product.category.name}</p>
      <p className="price"><Money value={product.price} /></p>
      <StockNote available={product.availableQuantity} />
    </article>
  );
}
