import { useId } from 'react';
import { COUNTRIES } from '../lib/countries';
import { Field } from './Field';

/** The shipping address part of the checkout form; `invalidField` is the field the server refused. */
export function AddressFields({ invalidField }: { invalidField: string | undefined }) {
  const countryId = useId();
  const error = (name: string) => (invalidField === name ? 'Check this field.' : undefined);
  return (
    <fieldset>
      <legend>Shipping address</legend>
      <Field label="Full name" name="name" autoComplete="name" required maxLength={100} error={error('name')} />
      <Field label="Address" name="line1" autoComplete="address-line1" required maxLength={200} error={error('line1')} />
      <Field label="Address line 2 (optional)" name="line2" autoComplete="address-line2" maxLength={200} error={error('line2')} />
      <Field label="City" name="city" autoComplete="address-level2" required maxLength={100} error={error('city')} />
      <Field label="Postal code" name="postalCode" autoComplete="postal-code" required maxLength={20} error={error('postalCode')} />
      <div className="field">
        <label htmlFor={countryId}>Country</label>
        <select id={countryId} name="country" autoComplete="country" defaultValue="DE" required>
          {COUNTRIES.map((c) => (
            <option key={c.code} value={c.code}>{c.name}</option>
          ))}
        </select>
      </div>
    </fieldset>
  );
}
