import { useId } from 'react';

const LEVELS = ['Too short', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;

/**
 * A rough strength score from length and character variety: a hint for a
 * person, not a guarantee. Long passphrases of ordinary words score well, as
 * they should.
 */
export function passwordStrength(password: string): number {
  if (password.length < 8) return 0;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(password)).length;
  const bits = password.length * Math.log2([0, 26, 52, 62, 94][classes] ?? 26);
  return bits < 40 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
}

export function PasswordField({ value, onChange, label, showStrength, autoComplete }: { value: string; onChange: (v: string) => void; label: string; showStrength?: boolean; autoComplete?: string }) {
  const id = useId();
  const score = passwordStrength(value);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="password" value={value} onChange={(e) => onChange(e.target.value)} autoComplete={autoComplete ?? 'new-password'} />
      {showStrength && value.length > 0 && (
        <div className="strength" data-score={score} aria-live="polite">
          <div className="strength-meter" aria-hidden="true">
            {[1, 2, 3, 4].map((n) => (
              <span key={n} className={n <= score ? 'on' : ''} />
            ))}
          </div>
          <span>
            {LEVELS[score]}
            {score < 3 && ' — a passphrase of four or more unrelated words is strong and easy to remember.'}
          </span>
        </div>
      )}
    </div>
  );
}
