-- TODO: yes haskell
module Main where
x' = "-- FIXME NOPE"
y = x' -->  z -- HACK yes after operator
{- outer {- inner -} XXX: yes nested -}
c = '"' -- BUG yes after char
