# Layers, enforced by the build (docs/ARCHITECTURE.md, "Layers in the build").
#
# Every layer is a folder under src/ whose CMakeLists.txt calls
#
#   kioku_add_layer(llm SOURCES a.cpp b.cpp PUBLIC core PRIVATE net)
#
# which defines the static library kioku_llm. Its include root is a folder of
# its own, ${PROJECT_BINARY_DIR}/include/llm, holding one symlink: llm -> src/llm.
# So `#include "llm/x.h"` works exactly where kioku_llm's usage requirements
# reach: inside the layer, in the layers that link it PUBLIC-ly through their
# own PUBLIC dependencies, and in what links it directly. An include that goes
# the wrong way (store including companion) finds no such file and fails to
# compile; a PRIVATE dependency's headers are invisible to the layer's users.
#
# A layer may only use layers added before it (KIOKU_LAYERS in the top-level
# CMakeLists.txt is bottom-up), so the graph cannot have a cycle, and
# kioku_check_layers() fails the configure step if anything links a kioku_
# layer out of that order, however the link was written.

set_property(GLOBAL PROPERTY KIOKU_LAYERS_DEFINED "")

function(kioku_add_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC;PRIVATE")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kioku_add_layer(${name}): unexpected ${arg_UNPARSED_ARGUMENTS}")
  endif()
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  get_property(defined GLOBAL PROPERTY KIOKU_LAYERS_DEFINED)
  foreach(dep IN LISTS arg_PUBLIC arg_PRIVATE)
    if(NOT dep IN_LIST defined)
      message(FATAL_ERROR "layer '${name}' (src/${folder}) may not use '${dep}': a layer only uses layers below it, "
                          "i.e. added before it in KIOKU_LAYERS (so far: ${defined})")
    endif()
  endforeach()

  set(root ${PROJECT_BINARY_DIR}/include/${name})
  get_filename_component(parent ${root}/${folder} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/${folder} SYMBOLIC)

  add_library(kioku_${name} STATIC ${arg_SOURCES})
  target_include_directories(kioku_${name} PUBLIC ${root})
  list(TRANSFORM arg_PUBLIC PREPEND kioku_)
  list(TRANSFORM arg_PRIVATE PREPEND kioku_)
  target_link_libraries(kioku_${name} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE})
  set_property(GLOBAL APPEND PROPERTY KIOKU_LAYERS_DEFINED ${name})
endfunction()

# The kioku_* targets a target links, split into public (part of its
# interface) and private (its own compile and link only).
function(_kioku_layer_links target out_public out_private)
  get_target_property(all ${target} LINK_LIBRARIES)
  get_target_property(iface ${target} INTERFACE_LINK_LIBRARIES)
  set(public "")
  set(private "")
  foreach(lib IN LISTS iface)
    if(lib MATCHES "^kioku_" AND NOT lib IN_LIST public)
      list(APPEND public ${lib})
    endif()
  endforeach()
  foreach(lib IN LISTS all)
    if(lib MATCHES "^kioku_" AND NOT lib IN_LIST public AND NOT lib IN_LIST private)
      list(APPEND private ${lib})
    endif()
  endforeach()
  set(${out_public} ${public} PARENT_SCOPE)
  set(${out_private} ${private} PARENT_SCOPE)
endfunction()

# Every target defined under src/ (recursively).
function(_kioku_src_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _kioku_src_targets(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Called once every layer is added: checks the order of every layer link and
# writes the graph as the docs show it (${PROJECT_BINARY_DIR}/layers.txt), one
# line per layer, bottom up: "name: public deps (private: private deps)"; other
# kioku_ targets (httplib) are shown without the prefix too.
function(kioku_check_layers)
  get_property(defined GLOBAL PROPERTY KIOKU_LAYERS_DEFINED)
  # src/ itself on an include path would let its users include any layer.
  set(src_targets "")
  foreach(layer_dir IN LISTS KIOKU_LAYERS)
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${layer_dir} AND EXISTS ${PROJECT_SOURCE_DIR}/src/${layer_dir}/CMakeLists.txt)
      _kioku_src_targets(${PROJECT_SOURCE_DIR}/src/${layer_dir} found)
      list(APPEND src_targets ${found})
    endif()
  endforeach()
  foreach(target IN LISTS src_targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "UTILITY")
      continue()
    endif()
    foreach(property INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES)
      get_target_property(dirs ${target} ${property})
      foreach(d IN LISTS dirs)
        if(d STREQUAL "${PROJECT_SOURCE_DIR}/src" OR d STREQUAL "${PROJECT_SOURCE_DIR}/src/")
          message(FATAL_ERROR "${target} puts src/ on an include path, which gets round the layer rules: define it "
                              "with kioku_add_layer(<name> SOURCES ... PUBLIC ... PRIVATE ...) instead "
                              "(docs/ARCHITECTURE.md, \"Layers in the build\")")
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(text "")
  set(index 0)
  foreach(layer IN LISTS defined)
    _kioku_layer_links(kioku_${layer} public private)
    foreach(lib IN LISTS public private)
      string(REGEX REPLACE "^kioku_" "" dep ${lib})
      list(FIND defined ${dep} dep_index)
      if(dep_index GREATER_EQUAL index)
        message(FATAL_ERROR "layer '${layer}' links kioku_${dep}, which is not below it (KIOKU_LAYERS order: ${defined})")
      endif()
    endforeach()
    list(TRANSFORM public REPLACE "^kioku_" "")
    list(TRANSFORM private REPLACE "^kioku_" "")
    list(JOIN public " " public_text)
    list(JOIN private " " private_text)
    set(line "${layer}:")
    if(public_text)
      string(APPEND line " ${public_text}")
    endif()
    if(private_text)
      string(APPEND line " (private: ${private_text})")
    endif()
    string(APPEND text "${line}\n")
    math(EXPR index "${index} + 1")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/layers.txt "${text}")
endfunction()
