# The NixOS options the fleet sets, with the type and default the evaluated nixpkgs (the
# stub) declares for each: `hosts: [ { option; type; default; } ]` for the flake's
# nixosConfigurations. tools/nix_eval_test.ts compares them with
# tools/testing/nixpkgs_stub/PROVENANCE.tsv.
#
# An option counts when it is declared by the nixpkgs input and a file of this repository
# defines it. Inside a submodule (users.users.<name>, services.openssh.settings, the VM
# variant's configuration) each declared sub-option the fleet's definitions set counts too,
# named with `<name>` for an attribute-set entry; a freeform entry (a sysctl, a Nix setting)
# is covered by its parent's row. Options set inside virtualisation.vmVariant are named as
# in the VM's own configuration (virtualisation.memorySize, not …vmVariant.virtualisation…).
hosts:
let
  anyHost = builtins.head (builtins.attrValues hosts);
  inputs = anyHost._module.specialArgs.inputs;
  inherit (inputs.nixpkgs) lib;
  fleetRoot = toString inputs.self.outPath;
  stubRoot = toString inputs.nixpkgs.outPath;
  under = root: file: lib.hasPrefix "${root}/" (toString file);
  declaredUpstream = option: builtins.any (under stubRoot) option.declarations;

  # The attribute names a definition sets, and the values under one name, through mkIf,
  # mkOverride, mkOrder and mkMerge.
  wrapped = value: builtins.isAttrs value && value ? _type;
  keysOf =
    value:
    if wrapped value then
      (
        if value._type == "merge" then
          lib.concatMap keysOf value.contents
        else if value ? content then
          keysOf value.content
        else
          [ ]
      )
    else if builtins.isAttrs value && !lib.isDerivation value then
      builtins.attrNames value
    else
      [ ];
  valuesAt =
    value: key:
    if wrapped value then
      (
        if value._type == "merge" then
          lib.concatMap (content: valuesAt content key) value.contents
        else if value ? content then
          valuesAt value.content key
        else
          [ ]
      )
    else if builtins.isAttrs value && value ? ${key} then
      [ value.${key} ]
    else
      [ ];

  sanitize =
    value:
    if lib.isDerivation value then
      "<package ${value.pname or value.name}>"
    else if builtins.isFunction value then
      "<function>"
    else if builtins.isPath value then
      toString value
    else if builtins.isList value then
      map sanitize value
    else if builtins.isAttrs value then
      builtins.mapAttrs (_: sanitize) value
    else
      value;
  renderDefault =
    option:
    if option ? defaultText then
      "text: ${option.defaultText.text or (toString option.defaultText)}"
    else if !(option ? default) then
      "(none)"
    else
      let
        rendered = builtins.tryEval (builtins.toJSON (sanitize option.default));
      in
      if rendered.success then rendered.value else "(computed)";

  # The declared sub-options of an option's type, and how an entry's name reads in a row.
  subOptionsOf =
    type:
    if type.name == "submodule" then
      {
        options = type.getSubOptions [ ];
        entries = false;
      }
    else if type.name == "attrsOf" && type.nestedTypes.elemType.name == "submodule" then
      {
        options = type.nestedTypes.elemType.getSubOptions [ ];
        entries = true;
      }
    else
      null;

  # What the modules a fleet file adds to a submodule type set (`options.users.users = mkOption
  # { type = attrsOf (submodule ({ name, ... }: { config = …; })); }`, as mixin-passwords does):
  # such a setting counts like a definition. The module system keeps each added module as
  # `{ _file; imports = [ module ]; }`; a module that is a function is called with `name` as
  # "<name>" (only the names it sets are read, never their values).
  fleetSubModuleValues =
    type:
    let
      element = if type.name == "attrsOf" then type.nestedTypes.elemType else type;
      ours = builtins.filter (module: module ? _file && under fleetRoot module._file) (
        element.getSubModules or [ ]
      );
      call =
        module:
        if builtins.isFunction module then
          module (
            builtins.mapAttrs (_: _: null) (builtins.functionArgs module)
            // {
              name = "<name>";
              inherit lib;
            }
          )
        else
          module;
      settings =
        body:
        if body ? config || body ? options then
          lib.optional (body ? config) body.config
        else
          [ (builtins.removeAttrs body [ "imports" "_file" ]) ];
    in
    lib.concatMap (module: lib.concatMap (inner: settings (call inner)) (module.imports or [ ])) ours;

  rowsOf =
    name: option: values:
    [
      {
        option = name;
        type = option.type.description;
        default = renderDefault option;
      }
    ]
    ++ subRows name option.type values;

  subRows =
    name: type: values:
    let
      sub = subOptionsOf type;
      # The VM variant's options are the host's NixOS options again.
      prefix = if name == "virtualisation.vmVariant" then "" else "${name}.";
    in
    if sub == null then
      [ ]
    else if sub.entries then
      walk "${prefix}<name>" sub.options (
        lib.concatMap (value: lib.concatMap (valuesAt value) (keysOf value)) values
        ++ fleetSubModuleValues type
      )
    else
      walk (lib.removeSuffix "." prefix) sub.options (values ++ fleetSubModuleValues type);

  walk =
    name: options: values:
    lib.concatMap (
      key:
      let
        here = if name == "" then key else "${name}.${key}";
        inner = lib.concatMap (value: valuesAt value key) values;
      in
      if !(options ? ${key}) then
        [ ]
      else if lib.isOption options.${key} then
        lib.optionals (declaredUpstream options.${key}) (rowsOf here options.${key} inner)
      else
        walk here options.${key} inner
    ) (lib.unique (lib.concatMap keysOf values));

  # Every option of a host's evaluation that nixpkgs declares and the fleet defines.
  hostRows =
    host:
    let
      options = lib.collect lib.isOption (builtins.removeAttrs host.options [ "_module" ]);
      set = builtins.filter (
        option: declaredUpstream option && builtins.any (under fleetRoot) option.files
      ) options;
    in
    lib.concatMap (
      option:
      rowsOf (lib.showOption option.loc) option (
        map (definition: definition.value) (
          builtins.filter (definition: under fleetRoot definition.file) option.definitionsWithLocations
        )
      )
    ) set;
in
lib.sort (a: b: a.option < b.option) (
  lib.unique (lib.concatMap hostRows (builtins.attrValues hosts))
)
