# The part of nixpkgs' lib that package files use outside `meta` (which is never evaluated
# here): version helpers, optionals, strings. Licences, maintainers, platforms and teams are
# empty sets: only `meta` reads them.
let
  splitVersion = builtins.splitVersion;
in
rec {
  versions = {
    major = v: builtins.elemAt (splitVersion v) 0;
    minor = v: builtins.elemAt (splitVersion v) 1;
    patch = v: builtins.elemAt (splitVersion v) 2;
    majorMinor = v: "${versions.major v}.${versions.minor v}";
  };
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: a: if cond then a else { };
  concatStringsSep = builtins.concatStringsSep;
  replaceStrings = builtins.replaceStrings;
  makeBinPath = _: "";
  getExe = p: "${p}/bin/${p.meta.mainProgram or p.pname or p.name}";
  getBin = p: p;
  cmakeBool = name: value: "-D${name}=${if value then "ON" else "OFF"}";
  fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  licenses = { };
  maintainers = { };
  teams = { };
  platforms = { };
  sourceTypes = { };
  strings = { inherit concatStringsSep replaceStrings optionalString; };
  lists = { inherit optional optionals; };
}
