import { useState } from 'react';

/** A product's picture; a neutral placeholder when there is none or it does not load. */
export function ProductImage({ src, alt, size }: { src: string | undefined; alt: string; size: number }) {
  const [failed, setFailed] = useState(false);
  if (!src || failed) {
    return <div className="image-placeholder" style={{ aspectRatio: '1' }} role="img" aria-label={alt} />;
  }
  return (
    <img src={src} alt={alt} width={size} height={size} loading="lazy" onError={() => setFailed(true)} />
  );
}
