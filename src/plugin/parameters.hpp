// `key=value` command-line parameters: conversion by the reference rules and
// validation against a plugin's `parameters` (types, defaults, required,
// min/max, select items), with the reference's error messages.
#pragma once

#include "plugin/config.hpp"

#include <honeycomb/alert.hpp>

#include <boost/json/fwd.hpp>

#include <string>
#include <variant>
#include <vector>

namespace honeycomb::plugin {

/// A parameter error; `text` is the exact message a user sees.
struct ParamError {
  std::string text;
};

/// The reference's value conversion: true/True/y/Y/yes and false/False/n/N/no
/// are booleans, all-digit strings integers, anything else a string.
Value convert_argument(std::string_view raw);

/// Parses `key=value` arguments and validates them against `specs`, filling
/// in defaults. Unknown names are kept (and reported in `unknown`).
std::variant<ServiceArgs, ParamError> parse_arguments(const std::vector<ParameterSpec>& specs,
                                                      const std::vector<std::string>& args,
                                                      std::vector<std::string>* unknown = nullptr);

/// Validates already-typed values (from .args.json or honeycomb.yml).
std::variant<ServiceArgs, ParamError> validate_values(const std::vector<ParameterSpec>& specs,
                                                      std::map<std::string, Value, std::less<>> values);

/// The `--show-args` table of the reference (header, dashes, one row each).
std::string show_args_table(const std::vector<ParameterSpec>& specs);

/// ServiceArgs as a JSON object (for `.args.json`) and back.
boost::json::value args_to_json(const ServiceArgs& args);
std::map<std::string, Value, std::less<>> args_from_json(const boost::json::value& v);

}  // namespace honeycomb::plugin
