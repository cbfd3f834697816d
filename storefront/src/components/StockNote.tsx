/** How many can be ordered, in words. */
export function StockNote({ available }: { available: number }) {
  if (available <= 0) return <p className="stock stock-out">Out of stock</p>;
  if (available <= 5) return <p className="stock stock-low">Only {available} left</p>;
  return <p className="stock stock-in">In stock</p>;
}
