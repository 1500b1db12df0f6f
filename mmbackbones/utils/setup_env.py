import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register every mmbackbones module and optionally make ``mmbackbones`` the default scope.

    With the default scope set, a plain ``dict(type='ResNet', depth=50)`` builds ours.

    Args:
        init_default_scope: Set the current default scope to ``'mmbackbones'``. If another scope
            is current, a new uniquely named default-scope instance is created, as mmdet does.
    """
    import mmbackbones.models  # noqa: F401  (registers everything)

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    never_created = current is None or not DefaultScope.check_instance_created('mmbackbones')
    if never_created:
        DefaultScope.get_instance('mmbackbones', scope_name='mmbackbones')
        return
    if current.scope_name != 'mmbackbones':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "mmbackbones"; '
                      '`register_all_modules` creates a new default scope named "mmbackbones".',
                      stacklevel=2)
        name = f'mmbackbones-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='mmbackbones')
