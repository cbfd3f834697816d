import { useState } from 'react';

/**
 * A product's picture; a neutral placeholder when there is none or it does not
 * load. An empty `alt` marks it decorative (the name is next to it).
 */
export function ProductImage({ src, alt, size }: { src: string | undefined; alt: string; size: number }) {
  const [failed, setFailed] = useState(false);
  if (!src || failed) {
    const label = alt ? { role: 'img', 'aria-label': alt } : { 'aria-hidden': true };
    return <div className="image-placeholder" {...label} />;
  }
  return <img src={src} alt={alt} width={size} height={size} loading="lazy" onError={() => setFailed(true)} />;
}
