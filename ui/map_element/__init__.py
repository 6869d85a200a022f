"""The embedding map element: WebGL (regl-scatterplot) in the browser, binary tables in, row ids
out. ``table`` encodes the points, ``ids`` the selections on the wire, ``element`` mounts it,
``view`` turns the app's map choices into the element's spec. The frontend's source is in
frontend/ (rebuild the bundle with `make frontend`); docs/map.md explains it all."""
