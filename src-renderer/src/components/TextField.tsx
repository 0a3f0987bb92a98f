/** A labelled text or password input; its id is `idPrefix` and the label, so a form's fields keep distinct ids. */
export function TextField({ idPrefix, label, value, onChange, placeholder, type = 'text' }: { idPrefix: string; label: string; value: string; onChange: (v: string) => void; placeholder?: string; type?: 'text' | 'password' }) {
  const id = `${idPrefix}-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type={type} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} spellCheck={false} autoComplete={type === 'password' ? 'off' : undefined} />
    </div>
  );
}
