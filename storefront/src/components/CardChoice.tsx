import { DEFAULT_CARD, TEST_CARDS } from '../lib/testCards';

/** The payment card: in test mode, one of the provider's test cards. */
export function CardChoice() {
  return (
    <fieldset>
      <legend>Payment card (test mode)</legend>
      {TEST_CARDS.map((card) => (
        <div className="radio" key={card.token}>
          <input
            type="radio"
            id={`card-${card.token}`}
            name="card"
            value={card.token}
            defaultChecked={card.token === DEFAULT_CARD}
          />
          <label htmlFor={`card-${card.token}`}>
            {card.label} <span className="muted">({card.outcome})</span>
          </label>
        </div>
      ))}
    </fieldset>
  );
}
