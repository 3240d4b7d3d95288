-- TODO: yes lua
local s = "-- FIXME NOPE"
local l = [==[
-- HACK NOPE long string ]] still
]==]
--[[ XXX: yes long comment ]]
--[==[
BUG: yes level-2 long comment ]] still
]==]
