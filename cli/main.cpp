#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) { return cheese::cli::run_cli(argc, argv, std::cin, std::cout, std::cerr); }
