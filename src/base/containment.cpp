// The names of the containments (containment.hpp), at the bottom: spawn/
// and every layer above print them.
#include "bounded_subprocess/containment.hpp"

#include <ostream>

namespace bounded_subprocess {

std::string_view to_string(Containment containment) noexcept {
  switch (containment) {
    case Containment::process_group: return "process_group";
    case Containment::subreaper: return "subreaper";
    case Containment::pid_namespace: return "pid_namespace";
    case Containment::cgroup: return "cgroup";
  }
  return "unknown";
}

std::optional<Containment> containment_from_string(std::string_view name) noexcept {
  for (Containment c :
       {Containment::process_group, Containment::subreaper, Containment::pid_namespace, Containment::cgroup})
    if (to_string(c) == name) return c;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, Containment containment) {
  return os << to_string(containment);
}

}  // namespace bounded_subprocess
