import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { AddToCartForm } from '../components/AddToCartForm';
import { ErrorMessage } from '../components/ErrorMessage';
import { Loading } from '../components/Loading';
import { Money } from '../components/Money';
import { ProductImage } from '../components/ProductImage';
import { StockNote } from '../components/StockNote';
import { graphql } from '../gql';
import { request } from '../graphql/client';
import { usePageTitle } from '../lib/usePageTitle';

const ProductQuery = graphql(`
  query Product($id: ID!) {
    product(id: $id) {
      id
      sku
      name
      description
      images
      availableQuantity
      archived
      price {
        amount
        currency
      }
      category {
        id
        name
      }
      attributes {
        name
        value
      }
    }
  }
`);

export function ProductPage() {
  const { id = '' } = useParams();
  const query = useQuery({
    queryKey: ['product', id],
    queryFn: async () => (await request(ProductQuery, { id })).product,
  });
  const product = query.data;
  usePageTitle(product?.name ?? 'Product');

  if (query.isPending) return <Loading label="Loading the product" />;
  if (query.isError) {
    return (
      <>
        <h1>Product</h1>
        <ErrorMessage error={query.error} />
      </>
    );
  }
  if (!product) {
    return (
      <>
        <h1>Product not found</h1>
        <p>It may have been removed. <Link to="/">Back to the catalogue</Link>.</p>
      </>
    );
  }

  return (
    <article className="product-detail">
      <div className="product-media">
        <ProductImage src={product.images[0]} alt={product.name} size={400} />
      </div>
      <div className="product-info">
        <p className="breadcrumb">
          <Link to={`/?category=${encodeURIComponent(product.category.id)}`}>{product.category.name}</Link>
        </p>
        <h1>{product.name}</h1>
        <p className="price large"><Money value={product.price} /></p>
        <StockNote available={product.archived ? 0 : product.availableQuantity} />
        {product.archived ? (
          <p>This product is no longer sold.</p>
        ) : (
          <AddToCartForm productId={product.id} productName={product.name} available={product.availableQuantity} />
        )}
        {product.description && <p className="description">{product.description}</p>}
        <dl className="attributes">
          <dt>SKU</dt>
          <dd>{product.sku}</dd>
          {product.attributes.map((a) => (
            <div key={a.name} className="attribute">
              <dt>{a.name}</dt>
              <dd>{a.value}</dd>
            </div>
          ))}
        </dl>
      </div>
    </article>
  );
}
