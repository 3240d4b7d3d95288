# TODO: yes elixir
defmodule M do
  @doc """
  # FIXME NOPE heredoc doc
  """
  def f, do: "# HACK NOPE #{1}"
  def g, do: ?# # XXX yes after char literal
end
