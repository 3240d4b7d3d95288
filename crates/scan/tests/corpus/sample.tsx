// TODO: yes tsx
export const C = () => (
  <div title="// FIXME NOPE">
    {/* HACK: yes jsx comment */}
  </div>
);
const s: string = 'XXX NOPE';
