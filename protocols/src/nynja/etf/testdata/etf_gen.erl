-module(etf_gen).
-export([main/0]).
main() ->
  Terms = [
    {io_ok_added, {io,{ok,added},{ok,added}}},
    {io_sms_sent, {io,{ok,sms_sent},<<>>}},
    {io_invalid_data, {io,{error,invalid_data},<<>>}},
    {io_login, {io,{ok2,login,{<<"emqttd_385726983339773952">>,<<"7f3c0a9e-1b2d-4c5e-8f90-a1b2c3d4e5f6">>}},<<>>}},
    {ack_message, {'Ack','Message',<<"msg-1">>}},
    {timestamp_ms, 1530801700714},
    {negative_size, -15},
    {small_ints, [0,1,255]},
    {int_list, [1000,-1,70000]},
    {big_positive, 18446744073709551616},
    {big_negative, -9223372036854775809},
    {float, 3.25},
    {utf8_binary, <<"Привет ✓"/utf8>>},
    {utf8_atom, 'Ωmega'},
    {nil, []},
    {nested_nil, [[]]},
    {improper, [a|b]},
    {map, #{<<"k">> => 1}},
    {p2p_message, {'Message',42,chain,{p2p,<<"alice_1">>,<<"bob_2">>},[],[],<<"m-1">>,<<"alice_1">>,<<"bob_2">>,1700000000123,
        [{'Desc',<<"d-1">>,<<"text">>,<<"hello">>,[],[]}],[],[],[],[],[],[]}},
    {history, {'History',<<"alice_1">>,{p2p,<<"alice_1">>,<<"bob_2">>},-15,20873,[],get}},
    {large_tuple, list_to_tuple(lists:seq(1,300))},
    {long_binary_list, lists:duplicate(3, <<"x">>)}
  ],
  lists:foreach(fun({Name, T}) ->
      B = term_to_binary(T),
      io:format("~s\t~s~n", [Name, string:join([integer_to_list(X) || X <- binary_to_list(B)], ",")])
    end, Terms),
  halt().
