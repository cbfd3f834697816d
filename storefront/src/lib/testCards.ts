/** The payment provider's test-mode cards (subgraphs/payments/src/clients/card_provider.rs). */
export const TEST_CARDS = [
  { token: 'tok_visa', label: 'Visa ending 4242', outcome: 'succeeds' },
  { token: 'tok_mastercard', label: 'Mastercard ending 4444', outcome: 'succeeds' },
  { token: 'tok_amex', label: 'American Express ending 0005', outcome: 'succeeds' },
  { token: 'tok_chargeDeclined', label: 'Declined card', outcome: 'is declined' },
  { token: 'tok_insufficientFunds', label: 'Insufficient funds', outcome: 'is declined' },
  { token: 'tok_expiredCard', label: 'Expired card', outcome: 'is declined' },
  { token: 'tok_incorrectCvc', label: 'Incorrect security code', outcome: 'is declined' },
] as const;

export const DEFAULT_CARD = TEST_CARDS[0].token;
