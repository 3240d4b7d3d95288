-- TODO: yes sql
SELECT '-- FIXME NOPE', 'it''s /* HACK NOPE */' FROM t; -- XXX yes trailing
/* BUG: yes block */
